import { Link } from 'react-router';
import { EmptyState, PageHeader } from '../components/ui';

export default function NotFoundPage() {
  return (
    <div className="page" data-testid="page-not-found">
      <PageHeader title="Page not found" />
      <EmptyState icon="search" title="There is nothing at this address" action={<Link to="/fleet" className="btn">Go to the fleet</Link>}>
        <p>The link may be outdated, or the feature is not available on this master.</p>
      </EmptyState>
    </div>
  );
}
